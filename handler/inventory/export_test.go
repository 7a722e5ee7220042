package inventory

// AnalyzerOfPlugins is the analyzer string computed from the extractors in use.
func AnalyzerOfPlugins() string {
	ps, err := plugins()
	if err != nil {
		panic(err)
	}
	return analyzerVersion(ps)
}
