"""What every part of the pipeline says about a record: its stable id (`ids`) and its ledger row
(`ledger`).  It imports no other pipeline folder, so readers, steps, dedup and the job all can."""
