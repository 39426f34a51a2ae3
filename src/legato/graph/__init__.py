"""The asset graph: upstream/downstream edges, order, cycles, selections."""
