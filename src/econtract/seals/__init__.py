"""Personal signatures and organisation seals: images, bound certificates, grants, approvals, usage."""
