"""③ Matching: the validation rules an invoice is checked by before it may be posted, as pure
functions (no Flask, no session, no ERP calls): facts in, findings out. The validate stage
that gathers the facts from the ERP and turns findings into holds builds on this package.
"""
