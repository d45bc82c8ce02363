"""fully_connected_s8_dsp: not written yet."""
KERNELS: list = []
