//! Go `text/template` for `line_format` and `label_format`.
