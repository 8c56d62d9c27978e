"""Random-matrix theory of the training covariance ``Sigma_0`` (chapters 5 to 7)."""
