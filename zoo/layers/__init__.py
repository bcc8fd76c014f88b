"""Public Keras layers of the zoo (one layer per module). Each helper adds its import here."""
