import CourtyardQR
import Foundation
import Testing

/// QR codes made in Swift must read in a real decoder: Debian's `zbarimg` (zbar-tools), which `scripts/test` installs.
@Suite("QR codes")
struct QRCodeTests {
    /// The decoder, or `nil` when it is not installed (CI always installs it; `scripts/test` refuses to skip there).
    static var zbarimg: String? {
        ["/usr/bin/zbarimg", "/usr/local/bin/zbarimg"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs zbarimg on the symbol drawn as a PGM file and returns what it read.
    static func decode(_ code: QRCode) throws -> String? {
        guard let zbarimg else { return nil }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString).pgm")
        try Data(code.portableGraymap(moduleSize: 4, border: 4)).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: zbarimg)
        process.arguments = ["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", "-Sbinary", file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = Pipe()
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return "" }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    static let requireDecoder = ProcessInfo.processInfo.environment["CI"] == "true"

    @Test(
        "a receipt link encodes and reads back through zbarimg at every error-correction level",
        arguments: QRCode.ErrorCorrection.allCases)
    func receiptLinkReadsBack(level: QRCode.ErrorCorrection) throws {
        let link = "https://pay.example.com/r/3f7a9c0e5b2d4168a0c1e2f3a4b5c6d7"
        let code = try QRCode.encode(link, errorCorrection: level)
        #expect(code.size == 17 + 4 * code.version)
        guard let read = try Self.decode(code) else {
            #expect(!Self.requireDecoder, "zbarimg is required in CI")
            return
        }
        #expect(read == link)
    }

    @Test(
        "longer texts choose larger versions, including ones with version information (7+) and several alignment patterns",
        arguments: [1, 40, 120, 300, 700, 1_200])
    func versionsReadBack(length: Int) throws {
        let text = String((0..<length).map { index in Array("courtyard-收据-0123456789")[index % 22] })
        let code = try QRCode.encode(text, errorCorrection: .medium)
        guard let read = try Self.decode(code) else {
            #expect(!Self.requireDecoder, "zbarimg is required in CI")
            return
        }
        #expect(read == text, "version \(code.version)")
    }

    @Test("the smallest version holding the data is chosen: 14 bytes fit version 1 at M, 15 do not")
    func smallestVersion() throws {
        // ISO/IEC 18004 table 7: version 1-M holds 14 bytes in byte mode.
        #expect(try QRCode.encode(String(repeating: "a", count: 14)).version == 1)
        #expect(try QRCode.encode(String(repeating: "a", count: 15)).version == 2)
        // Version 40-L holds 2,953 bytes.
        #expect(try QRCode.encode(bytes: [UInt8](repeating: 0x41, count: 2_953), errorCorrection: .low).version == 40)
        #expect(throws: QRCode.EncodingError.self) { try QRCode.encode(bytes: [UInt8](repeating: 0x41, count: 2_954), errorCorrection: .low) }
    }

    @Test("the SVG drawing has one square per dark module")
    func svgDrawing() throws {
        let code = try QRCode.encode("R0000000001")
        let svg = code.svg(moduleSize: 3, border: 2)
        let dark = code.modules.filter { $0 }.count
        #expect(svg.components(separatedBy: "z").count - 1 == dark)
        #expect(svg.hasPrefix("<svg"))
    }
}
