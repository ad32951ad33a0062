"""GPT-3-style quality classifier: hashed n-gram logistic regression, numpy only.

`features` (hashing trick), `model` (.npz + JSON, no pickle), `train` (Adam), `data` (input
readers), `sample_set` (a training set cut from the bundled sample), `step` (the pipeline step
that scores and keeps).  The folder sits above `pipeline.steps`: its set is cut with the decode,
extract and clean steps.  The command is `yuliao quality train` (`pipeline.cli.quality`).
"""
