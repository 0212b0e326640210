"""gdsim-sklearn-data: scikit-learn's bundled data sets (iris, wine, breast cancer, digits) as
gdsim data sources. The files ship inside scikit-learn's wheel; nothing is downloaded."""

__version__ = "0.1.0"
