"""tinyrt: .tflite models to planned, specialised, bit-exact C for microcontrollers."""
__version__ = "0.1.0"
