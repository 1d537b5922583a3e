import ArgumentParser
struct Bench: AsyncParsableCommand { static let configuration = CommandConfiguration(abstract: "Benchmarks."); func run() async throws {} }
