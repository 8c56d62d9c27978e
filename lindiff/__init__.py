"""The code of *Generalization Dynamics of Linear Diffusion Models*, one module per
concern.

The chapters import the facade :mod:`lindiff_core` (``import lindiff_core as ld``),
which re-exports the public names of the modules below; the other modules are imported
by name (``from lindiff import checks as lc, plot as lp``). Importing this package
imports none of its modules, so that the numerical core never loads JAX or matplotlib.

========================  ==========================================================
module                    what it holds (chapter)
========================  ==========================================================
``_validate``             input checks and the rounding rule
``schedule``              the noise schedule, the weight decay per step (1)
``gaussian``              Gaussians in eigen form, the power-law data model (1)
``sampler``               the reverse step's factors and noise (2)
``denoiser``              the linear denoiser: gain, fit, the two forms (1, 7)
``losses``                train and test losses, the null directions (1, 3)
``chain``                 the reverse chain and the exact law of its samples (2)
``kl``                    KL divergences, the Wishart mean and variance (4)
``metrics``               the exact metrics of one model, one random trial (4)
``training``              gradient flow from a random start, gradient descent (7)
``rmt.silverstein``       the Silverstein equation, deterministic equivalents (5, 6)
``rmt.companion``         the companion transform and the support of the density (5)
``rmt.density``           the limiting spectral law of ``Sigma_0`` (5)
``rmt.contour``           typical-case metrics by contour integrals (6, 7)
``memorization``          the training set's own denoiser, nearest neighbours (8)
``data``                  real image data and power-law fits (9)
``nn``                    non-linear noise predictors in JAX (8)
``checks``                the book's verification checks
``reference``             independent roads: dense, brute force, closed forms
``plot``, ``layout``      the figure style and helpers; figures laid out per column
========================  ==========================================================
"""
