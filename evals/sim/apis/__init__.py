"""The simulated HTTP APIs, one module per integration; `evals.sim.server` mounts them."""
