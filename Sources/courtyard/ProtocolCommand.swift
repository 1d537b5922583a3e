import ArgumentParser
import CourtyardMeterProtocols
import Foundation

/// `courtyard protocol …`: decode meter captures and build read and valve/switch frames, offline.
struct ProtocolCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocol", abstract: "DL/T 645-2007 and CJ/T 188-2004 frames for field engineers.",
        subcommands: [Decode.self, Encode.self])

    enum Name: String, ExpressibleByArgument, CaseIterable {
        case dlt645, cjt188
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode one frame (hex; spaces, 0x and FE preamble allowed) and print it as JSON.",
            discussion: "Example: courtyard protocol decode dlt645 \"FE FE 68 37 03 00 92 81 39 68 91 08 33 33 34 33 37 33 33 33 8C 16\"")
        @Argument(help: "dlt645 or cjt188") var name: Name
        @Argument(parsing: .remaining, help: "The frame as hex.") var hex: [String]

        func run() throws {
            do {
                let bytes = try Hex.bytes(hex.joined(separator: " "))
                let report: FrameReport =
                    switch name {
                    case .dlt645: try FrameReport(dlt645: DLT645.decodeFrame(bytes))
                    case .cjt188: FrameReport(try CJT188.decode(bytes))
                    }
                print(try ProtocolCommand.json(report))
            } catch let error as FrameError {
                throw CommandFailure(description: "\(error.code): \(error.description)")
            }
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Build a read, remote-control (DL/T 645 0x1C) or valve (CJ/T 188) frame and print it as hex.",
            discussion: """
                Examples:
                  courtyard protocol encode dlt645 read --address 000000000001 --identifier 00010000
                  courtyard protocol encode dlt645 trip --address 000000000001 --valid-until "2026-11-23 00:00:00"
                  courtyard protocol encode cjt188 read --type cold_water --address 00201510270588
                  courtyard protocol encode cjt188 close --type cold_water --address 00000019121301
                """)
        @Argument(help: "dlt645 or cjt188") var name: Name
        @Argument(help: "dlt645: read, trip, close-permitted, close, keep-power, keep-power-release. cjt188: read, open, close.")
        var action: String
        @Option(help: "Meter address as on the nameplate (12 digits for DL/T 645, 14 for CJ/T 188; AA… for broadcast).")
        var address: String
        @Option(help: "DL/T 645 data identifier, 8 hex digits (default 00010000, forward active energy).")
        var identifier: String = "00010000"
        @Option(help: "DL/T 645 remote control: last moment the command is valid, meter local time \"YYYY-MM-DD HH:MM:SS\".")
        var validUntil: String?
        @Option(help: "DL/T 645 remote control: the meter's current local time (default: this machine's local time).")
        var now: String?
        @Option(help: "DL/T 645 password, 8 hex digits, privilege level first.") var password: String = "00000000"
        @Option(help: "DL/T 645 operator code, 8 hex digits.") var operatorCode: String = "00000000"
        @Option(help: "CJ/T 188 meter type: cold_water, hot_water, heat, gas, … or 2 hex digits.") var type: String = "cold_water"
        @Option(help: "CJ/T 188 serial number (0–255).") var serial: UInt8 = 0
        @Flag(help: "CJ/T 188: send the data identifier low byte first (1F 90), as some vendors expect.") var lowFirst = false
        @Option(help: "Number of FE preamble bytes.") var preamble: Int?

        func run() throws {
            do {
                print(Hex.string(try frame()))
            } catch let error as FrameError {
                throw CommandFailure(description: "\(error.code): \(error.description)")
            }
        }

        func frame() throws -> [UInt8] {
            switch name {
            case .dlt645:
                let address = try DLT645.Address(self.address)
                if action == "read" {
                    return DLT645.readRequest(address: address, identifier: try DLT645.DataIdentifier(text: identifier), preamble: preamble ?? 4)
                }
                guard let command = DLT645.RemoteCommand(name: action) else {
                    throw ValidationError("unknown DL/T 645 action \(action)")
                }
                guard let validUntil, let until = MeterClock(text: validUntil) else {
                    throw ValidationError("--valid-until \"YYYY-MM-DD HH:MM:SS\" is required for \(action)")
                }
                let current: MeterClock? =
                    try now.map { text in
                        guard let clock = MeterClock(text: text) else { throw ValidationError("--now must be \"YYYY-MM-DD HH:MM:SS\"") }
                        return clock
                    } ?? Self.localNow()
                guard let current else { throw ValidationError("this machine's clock is outside 2000–2099; pass --now") }
                return try DLT645.remoteControl(
                    address: address, command: command, validUntil: until, now: current, password: password,
                    operatorCode: operatorCode, preamble: preamble ?? 4)
            case .cjt188:
                let address = try CJT188.Address(self.address)
                let type = try CJT188.MeterType(text: type)
                let order: CJT188.IdentifierOrder = lowFirst ? .lowFirst : .highFirst
                switch action {
                case "read": return CJT188.readRequest(type: type, address: address, serial: serial, order: order, preamble: preamble ?? 2)
                case "open", "close":
                    return CJT188.valveCommand(
                        type: type, address: address, open: action == "open", serial: serial, order: order,
                        preamble: preamble ?? 2)
                default: throw ValidationError("unknown CJ/T 188 action \(action): read, open or close")
                }
            }
        }

        static func localNow() -> MeterClock? {
            let parts = Calendar.current.dateComponents([.year, .month, .day, .hour, .minute, .second], from: Date())
            guard let year = parts.year, let month = parts.month, let day = parts.day, let hour = parts.hour, let minute = parts.minute,
                let second = parts.second
            else { return nil }
            return MeterClock(year: year, month: month, day: day, hour: hour, minute: minute, second: second)
        }
    }

    static func json(_ report: FrameReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }
}
