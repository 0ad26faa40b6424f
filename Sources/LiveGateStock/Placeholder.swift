// The stock core is built under issue 12; this file is replaced by it.
