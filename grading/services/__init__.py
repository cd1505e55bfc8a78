"""Write operations of the grading app, one module per subdomain: `runs` (grading runs),
`reviews` (decisions on proposed changes), `overrides`, `schemes`."""
