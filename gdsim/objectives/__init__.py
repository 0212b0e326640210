"""Built-in objectives: polynomials (the lecture's quartic) and classic 2-D test functions."""
