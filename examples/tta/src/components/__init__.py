"""TTA example components.

Each sub-module or sub-package is one component that moves through the maturity stages
(Development -> Staging -> Production) independently.
"""
