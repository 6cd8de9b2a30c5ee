"""Store rows to the simulator's truth.fits rows, by position (the simulator's catalogue
positions are the store's), shared by the model-card scripts."""
import numpy as np


def truth_rows(store, truth):
    """Index into truth (a FITS table) of each store galaxy; -1 where none sits there."""
    key = {(round(a, 6), round(b, 6)): i for i, (a, b) in enumerate(zip(truth["ra"], truth["dec"]))}
    return np.array([key.get((round(a, 6), round(b, 6)), -1)
                     for a, b in zip(store["galaxies/ra"][:], store["galaxies/dec"][:])])
