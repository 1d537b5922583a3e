import CourtyardBilling
import CourtyardDomain
import CourtyardIngest
import CourtyardMeterProtocols
import CourtyardPayments
import Foundation

/// The parsers that read what comes from outside, each as a libFuzzer target (issue 25, point 2).
///
/// A target takes any bytes. Whatever they are, it must return: a parser refuses bad input with an error and never
/// traps (a trap stops the whole server; see the hardening issue). `FUZZ_TARGET` names the target a run exercises,
/// so one binary serves them all.
enum Target: String, CaseIterable, Sendable {
    /// A readings batch as devices and integrations post it (`ReadingParser.parse`).
    case readingsJSON = "readings-json"
    /// A DL/T 645-2007 frame (`DLT645.decode`).
    case dlt645
    /// A CJ/T 188-2004 frame (`CJT188.decode`).
    case cjt188
    /// CSV text: the shared reader, and WeChat Pay's and Alipay's statements for reconciliation.
    case csv
    /// A bank statement as finance uploads it (`BankStatement.rows`), and the out-trade-no search of each reference.
    case bankStatement = "bank-statement"
    /// A monthly usage file as finance imports it (`UsageImport.parse`).
    case usageCSV = "usage-csv"
    /// An Alipay asynchronous notification: the form decoder, then the notification reader with no keys configured.
    case alipayForm = "alipay-form"
    /// A pricing rule as finance posts it; a rule that validates is then quoted with inputs drawn from the same bytes.
    case pricingRule = "pricing-rule"
    /// The short texts inside bodies and query strings: money, quantities, prices, areas, dates, periods and times.
    case text

    func run(_ bytes: [UInt8]) {
        switch self {
        case .readingsJSON:
            _ = try? ReadingParser.parse(Data(bytes))
            _ = try? ReadingParser.parse(Data(bytes), defaultDevice: "meter-1")
        case .dlt645:
            _ = try? DLT645.decode(bytes)
        case .cjt188:
            _ = try? CJT188.decode(bytes)
        case .csv:
            let text = String(decoding: bytes, as: UTF8.self)
            _ = CSV.records(text)
            _ = try? Reconciliation.parse(text, channel: "wechatpay")
            _ = try? Reconciliation.parse(text, channel: "alipay")
        case .bankStatement:
            let text = String(decoding: bytes, as: UTF8.self)
            for row in (try? BankStatement.rows(text)) ?? [] {
                if case .credit(let credit) = row { _ = BankStatement.outTradeNo(in: credit.reference) }
            }
            _ = BankStatement.outTradeNo(in: text)
        case .usageCSV:
            _ = UsageImport.parse(
                csv: String(decoding: bytes, as: UTF8.self), companyId: "company", communityId: "community",
                now: Date(timeIntervalSince1970: 1_790_000_000))
        case .alipayForm:
            _ = FormEncoding.decode(bytes)
            _ = try? Alipay.verifyNotification(bytes, credentials: [])
            _ = Alipay.fen(String(decoding: bytes, as: UTF8.self))
        case .pricingRule:
            Self.priceRule(bytes)
        case .text:
            Self.readTexts(bytes)
        }
    }

    /// Decodes a rule the way the API does (snake_case keys); a rule that validates is quoted with usage, position,
    /// quota scale, area, months and duration taken from the bytes, including their extremes.
    static func priceRule(_ bytes: [UInt8]) {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        guard let rule = try? decoder.decode(PricingRule.self, from: Data(bytes)), rule.validate().isEmpty else { return }
        var source = ByteSource(bytes)
        for _ in 0..<4 {
            var windows: [String: Quantity]?
            if let ruleWindows = rule.windows, !ruleWindows.isEmpty {
                windows = Dictionary(ruleWindows.map { ($0.name, Quantity(milliUnits: source.int64())) }, uniquingKeysWith: { first, _ in first })
            }
            let input = QuoteInput(
                usage: Quantity(milliUnits: source.int64()), position: Quantity(milliUnits: source.int64()),
                quotaScaleThousandths: source.int64(), windowUsage: windows, area: Area(hundredths: source.int64()),
                months: source.int64(), durationSeconds: source.int64())
            _ = try? Tariff.quote(rule, input)
        }
    }

    /// Each line of the bytes through every text reader.
    static func readTexts(_ bytes: [UInt8]) {
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).prefix(64) {
            _ = try? Money(parsing: line)
            _ = try? Quantity(parsing: line)
            _ = try? UnitPrice(parsing: line)
            _ = try? Area(parsing: line)
            for scale in 0...7 { _ = try? FixedPoint.parse(line, scale: scale) }
            _ = LocalDate(line)
            _ = BillingPeriod(line)
            _ = RFC3339.milliseconds(line)
            _ = ReadingParser.parseTime(String(line))
        }
    }
}

/// Numbers drawn from the input's tail: small ones, boundaries and anything between, so quotes meet the extremes.
struct ByteSource {
    var bytes: [UInt8]
    var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.index = max(0, bytes.count - 64)
    }

    mutating func byte() -> UInt8 {
        guard !bytes.isEmpty else { return 0 }
        defer { index = (index + 1) % bytes.count }
        return bytes[index]
    }

    mutating func int64() -> Int64 {
        switch byte() % 8 {
        case 0: return Int64.max
        case 1: return Int64.min
        case 2: return 0
        case 3: return Int64(byte())
        case 4: return -Int64(byte())
        default:
            var value: UInt64 = 0
            for _ in 0..<8 { value = value << 8 | UInt64(byte()) }
            return Int64(bitPattern: value)
        }
    }
}

/// The target this run exercises, from `FUZZ_TARGET`.
let selected: Target = {
    guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let target = Target(rawValue: name) else {
        FileHandle.standardError.write(Data("set FUZZ_TARGET to one of \(Target.allCases.map(\.rawValue))\n".utf8))
        exit(2)
    }
    return target
}()

/// libFuzzer's entry point: one input, any bytes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected.run(bytes)
    return 0
}

/// libFuzzer's driver, which parses its flags and runs the loop (`LLVMFuzzerRunDriver`, in libFuzzer since LLVM 11).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The executable's entry: SwiftPM links an executable target's `main` to `<module>_main`, so the driver is started
/// from here instead of from libFuzzer's own `main`.
@_cdecl("CourtyardFuzz_main")
public func courtyardFuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOneInput(data, size) }
}
