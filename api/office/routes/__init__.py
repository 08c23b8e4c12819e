"""Routes of the e-office API, one module per part of the work (auth, outgoing, incoming…)."""
