"""Transfer: fine-tuning a pretrained encoder with a task head, and the k-mer baseline."""
