"""Multi-task minBERT (DESIGN.md, paper 2): the model, its batches and train steps (PCGrad, GSE,
SMART, top-k), the epoch loop and head predictions. `minion_tf.methods.multitask` runs it through
the one runner (`--task minbert --model multitask`)."""
