//! The receipt printer (ESC/POS thermal, 58 mm or 80 mm, on a serial line).
