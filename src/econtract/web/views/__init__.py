"""Web views, one module per area. Thin: read the form, call the service, render or redirect."""
