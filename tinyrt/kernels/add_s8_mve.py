"""add_s8_mve: not written yet."""
KERNELS: list = []
