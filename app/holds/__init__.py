"""④ The finance queue: held invoices, why they are held, and what finance does about it
(release a hold with a reason, reject the invoice back to the supplier)."""
