// Command tlogcheck verifies econtract's transparency log with golang.org/x/mod/sumdb/note and
// sumdb/tlog, an implementation independent of ours. It reads one JSON object on stdin:
//
//	{"vkey": "...", "checkpoint": "<signed note>",
//	 "leaf": "<b64>", "leaf_index": n, "inclusion_proof": ["<b64>", ...],
//	 "old_checkpoint": "<signed note>", "consistency_proof": ["<b64>", ...],
//	 "leaves": ["<b64>", ...]}
//
// The checkpoint is always opened and parsed. With "leaf": an inclusion proof is checked (tlog.CheckRecord).
// With "old_checkpoint": a consistency proof is checked (tlog.CheckTree). With "leaves" (all leaves of the
// checkpoint's tree, in order): the root is recomputed and the given proofs must equal tlog's own
// ProveRecord/ProveTree byte for byte (same RFC 6962/9162 order). Prints "ok" or the error, exits 1.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type input struct {
	VKey             string   `json:"vkey"`
	Checkpoint       string   `json:"checkpoint"`
	Leaf             *string  `json:"leaf"`
	LeafIndex        *int64   `json:"leaf_index"`
	InclusionProof   []string `json:"inclusion_proof"`
	OldCheckpoint    *string  `json:"old_checkpoint"`
	ConsistencyProof []string `json:"consistency_proof"`
	Leaves           []string `json:"leaves"`
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

// open verifies the note's signature and parses its text as a c2sp.org/tlog-checkpoint body:
// origin, decimal size (no leading zeros), base64 root, then optional non-empty extension lines.
func open(msg string, verifier note.Verifier) (checkpoint, error) {
	n, err := note.Open([]byte(msg), note.VerifierList(verifier))
	if err != nil {
		return checkpoint{}, fmt.Errorf("note: %w", err)
	}
	if !strings.HasSuffix(n.Text, "\n") {
		return checkpoint{}, errors.New("checkpoint: text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, errors.New("checkpoint: fewer than 3 lines")
	}
	for _, line := range lines {
		if line == "" {
			return checkpoint{}, errors.New("checkpoint: empty line")
		}
	}
	origin := lines[0]
	if origin != verifier.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint: origin %q is not the key name %q", origin, verifier.Name())
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		return checkpoint{}, fmt.Errorf("checkpoint: bad tree size %q", lines[1])
	}
	root, err := hash(lines[2])
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint: bad root hash: %w", err)
	}
	return checkpoint{origin, size, root}, nil
}

func hash(b64 string) (tlog.Hash, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return tlog.Hash{}, err
	}
	if len(raw) != tlog.HashSize {
		return tlog.Hash{}, fmt.Errorf("hash of %d bytes, want %d", len(raw), tlog.HashSize)
	}
	var h tlog.Hash
	copy(h[:], raw)
	return h, nil
}

func hashes(list []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, 0, len(list))
	for i, s := range list {
		h, err := hash(s)
		if err != nil {
			return nil, fmt.Errorf("proof hash %d: %w", i, err)
		}
		out = append(out, h)
	}
	return out, nil
}

func sameHashes(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// memory holds the stored hashes of a whole tree (tlog.StoredHashes layout) for ProveRecord/ProveTree.
type memory []tlog.Hash

func (m memory) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not in the tree", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func build(leaves []string) (memory, error) {
	var stored memory
	for i, b64 := range leaves {
		data, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("leaf %d: %w", i, err)
		}
		more, err := tlog.StoredHashes(int64(i), data, stored)
		if err != nil {
			return nil, err
		}
		stored = append(stored, more...)
	}
	return stored, nil
}

func run(in input) error {
	verifier, err := note.NewVerifier(strings.TrimSpace(in.VKey))
	if err != nil {
		return fmt.Errorf("vkey: %w", err)
	}
	tree, err := open(in.Checkpoint, verifier)
	if err != nil {
		return err
	}
	var stored memory
	if in.Leaves != nil {
		if int64(len(in.Leaves)) != tree.size {
			return fmt.Errorf("leaves: %d given, the checkpoint has %d", len(in.Leaves), tree.size)
		}
		if stored, err = build(in.Leaves); err != nil {
			return err
		}
		root, err := tlog.TreeHash(tree.size, stored)
		if err != nil {
			return err
		}
		if root != tree.root {
			return errors.New("leaves: recomputed root differs from the checkpoint's")
		}
	}
	if in.Leaf != nil {
		if in.LeafIndex == nil {
			return errors.New("leaf without leaf_index")
		}
		data, err := base64.StdEncoding.Strict().DecodeString(*in.Leaf)
		if err != nil {
			return fmt.Errorf("leaf: %w", err)
		}
		proof, err := hashes(in.InclusionProof)
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(proof, tree.size, tree.root, *in.LeafIndex, tlog.RecordHash(data)); err != nil {
			return fmt.Errorf("inclusion: %w", err)
		}
		if stored != nil {
			own, err := tlog.ProveRecord(tree.size, *in.LeafIndex, stored)
			if err != nil {
				return err
			}
			if !sameHashes(own, proof) {
				return errors.New("inclusion: proof differs from tlog.ProveRecord")
			}
		}
	}
	if in.OldCheckpoint != nil {
		old, err := open(*in.OldCheckpoint, verifier)
		if err != nil {
			return fmt.Errorf("old %w", err)
		}
		proof, err := hashes(in.ConsistencyProof)
		if err != nil {
			return err
		}
		if old.size == 0 {
			// RFC 9162 2.1.4: nothing to prove from the empty tree.
			if len(proof) != 0 {
				return errors.New("consistency: non-empty proof from the empty tree")
			}
		} else {
			if err := tlog.CheckTree(proof, tree.size, tree.root, old.size, old.root); err != nil {
				return fmt.Errorf("consistency: %w", err)
			}
			if stored != nil {
				own, err := tlog.ProveTree(tree.size, old.size, stored)
				if err != nil {
					return err
				}
				if !sameHashes(own, proof) {
					return errors.New("consistency: proof differs from tlog.ProveTree")
				}
			}
		}
	}
	return nil
}

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err == nil {
		var in input
		decoder := json.NewDecoder(bytes.NewReader(raw))
		decoder.DisallowUnknownFields()
		if err = decoder.Decode(&in); err == nil {
			err = run(in)
		}
	}
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ok")
}
