"""One module per training method; `registry` finds them (see `base` for the contract)."""
