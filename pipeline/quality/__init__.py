"""GPT-3-style quality classifier: hashed n-gram logistic regression, numpy only.

`features` (hashing trick), `model` (.npz + JSON, no pickle), `train` (Adam), `data` (input
readers), `sample_set` (a training set cut from the bundled sample).  The scoring step is
`pipeline.steps.quality`; the command is `yuliao quality train` (`pipeline.cli.quality`).
"""
