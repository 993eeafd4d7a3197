"""What a run shows: results tables, the paper beside ours, training cost, LaTeX, figures, the page."""
