//! Python bindings of logjar (the pyo3 module lands with the Python package issue).
