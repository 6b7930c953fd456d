package logjar_test

import "os"

func filepathTemp() (string, error) { return os.MkdirTemp("", "logjar-example-") }
