"""Reading inputs and writing outputs atomically."""
