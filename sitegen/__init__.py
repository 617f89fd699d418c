"""sitegen: a static-site generator for a cited explainer.

The pipeline (see pipeline.py) runs load -> validate -> model -> check -> render -> write.
"""

__version__ = "0.1.0"
