// Package report renders a drill's Result (package drill): the text report
// with its ASCII timeline (WriteReport), the JSON other tools read
// (WriteJSON), the SVG chart (WriteSVG), all three as the CLI's flags ask
// (WriteOutputs), and the history file of past drills
// with its trend table that flags regressions (AppendHistory, ReadHistory,
// Trend, WriteTrend, OfService).
//
// It does not run drills or analyse their samples (package drill does:
// Run, Analyze); it only reads the Result they produce.
package report
