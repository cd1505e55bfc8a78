"""Write operations of the benefits app, one module per subdomain: `redemptions`, `growth`
(growth tasks -> points ledger), `nudges` (automatic nudges) and `recommendations`.

Import direction: `benefits.tasks` imports these services at the top; a service that must
enqueue a task imports it inside the function and enqueues on commit."""
