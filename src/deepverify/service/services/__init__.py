"""Service functions (keyword-only), one module per resource."""
