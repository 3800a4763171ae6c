"""Fine-tuning the CenterNet detector from reviewed clips (issue #15), as a plain library (no Django).

model.py     the TF.js graph's weights as trainable torch parameters; the contract ONNX export
targets.py   heat-map and size targets from boxes (positives, hard negatives, kept boxes)
losses.py    CenterNet's losses: penalty-reduced focal loss, L1 on the box sides
data.py      the training set as an export folder (manifest.jsonl + images) reads it
trainer.py   the training loop, held-out people's recall every epoch
gate.py      candidate vs production on held-out cameras' clips, through decide_clip
registry.py  MLflow: runs, the `vigia-detector` registry, the `production` alias
pipeline.py  one training run end to end (what the command, the role and the beat job call)
role.py      the container's `train` role (SageMaker's /opt/ml layout)
"""
