"""Pure algorithms: numpy / scipy / scikit-learn / polars / river in, plain results out. No I/O."""
