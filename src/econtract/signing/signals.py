"""What signing tells the apps after it (data flows one way: signing never imports contracts).

Receivers are connected in their app's ``AppConfig.ready()``; they run inside the completing
transaction, so a failure rolls the completion back rather than leaving it unrecorded."""

from __future__ import annotations

from django.dispatch import Signal

# sent with envelope= (signing.Envelope, now completed) and context= (evidence RequestContext)
envelope_completed = Signal()
