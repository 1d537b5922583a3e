import ArgumentParser
import CourtyardStorage

/// `--careful-paths`: the fast paths a command switches off (for comparisons and for checking one path against the other).
extension FastPaths: ExpressibleByArgument {
    public init?(argument: String) { self.init(carefulPaths: argument) }

    /// The careful paths, as the option names them.
    public var defaultValueDescription: String {
        let careful = [(ledger, "ledger"), (bulk, "bulk"), (readings, "readings")].filter { !$0.0 }.map(\.1)
        return careful.isEmpty ? "none" : careful.count == 3 ? "all" : careful.joined(separator: ",")
    }

    static let optionHelp = ArgumentHelp(
        "Fast paths to switch off, for comparisons: none (the default), all, or a comma-separated list of ledger, bulk, readings.")
}
