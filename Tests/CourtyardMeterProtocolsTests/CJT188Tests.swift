import CourtyardMeterProtocols
import Testing

/// CJ/T 188-2004 frames. Positive fixtures are captures published in public implementations, named next to each.
@Suite struct CJT188Tests {
    func decode(_ hex: String) throws -> CJT188.Message { try CJT188.decode(try Hex.bytes(hex)) }

    @Test func aCurrentDataReplyCarriesTheCumulativeFlowInCubicMetres() throws {
        // Source: the doctest of a public Python CJT188Protocol.find_frame_in_buff (six FE bytes of preamble).
        guard
            case .currentData(let frame, let order, let serial, let data) = try decode(
                "FE FE FE FE FE FE 68 10 01 02 03 04 05 06 07 81 16 90 1F 96 00 55 55 05 2C 00 55 55 05 2C 00 00 00 00 00 00 00 00 00 26 16")
        else { Issue.record("not 901F"); return }
        #expect(frame.type == .coldWater)
        #expect(frame.address.description == "07060504030201")
        #expect(order == .highFirst)
        #expect(serial == 0x96)
        #expect(data.cumulative == MeterValue(units: 5_555_500, scale: 2, unit: "m3"))
        #expect(data.cumulative?.milliUnits == 55_555_000)
        #expect(data.settlement?.text == "55555.00")
        #expect(data.meterTime == nil, "an all-zero clock is unset, not year 2000")
        #expect(data.status.valve == "open")
    }

    @Test func theMeterClockIsReadSecondsFirstWithAFourDigitYear() throws {
        // Source: a public C# FrameCJT188_2004 test (SetDataSample).
        guard
            case .currentData(let frame, _, let serial, let data) = try decode(
                "68 10 88 05 27 10 15 20 00 81 16 90 1F 01 00 00 00 00 2C 00 00 00 00 2C 06 20 17 09 01 17 20 00 00 8E 16")
        else { Issue.record("not 901F"); return }
        #expect(frame.address.description == "00201510270588")
        #expect(serial == 1)
        #expect(data.cumulative?.text == "0.00")
        #expect(data.meterTime?.description == "2017-01-09 17:20:06")
    }

    @Test func readRequestsAreBuiltByteForByteInEitherIdentifierOrder() throws {
        // Source: the same C# test's request frame (DI sent 90 1F).
        let address = try CJT188.Address("00201510270588")
        #expect(
            CJT188.readRequest(type: .coldWater, address: address, serial: 1, preamble: 0)
                == (try Hex.bytes("68 10 88 05 27 10 15 20 00 01 03 90 1F 01 25 16")))
        // Source: a public Java CJT188ProtocolFrame.decodePack example (DI sent 1F 90).
        let lowFirst = "68 10 01 00 00 05 08 00 00 01 03 1F 90 00 39 16"
        #expect(
            CJT188.readRequest(type: .coldWater, address: try CJT188.Address("00000805000001"), order: .lowFirst, preamble: 0)
                == (try Hex.bytes(lowFirst)))
        guard case .readRequest(_, let identifier, let order, _) = try decode(lowFirst) else { Issue.record("not a read"); return }
        #expect(identifier == CJT188.currentData)
        #expect(order == .lowFirst)
    }

    @Test func aReplyFromTheSameJavaSourceReadsOneHundredTwentyThreeCubicMetres() throws {
        guard
            case .currentData(_, _, _, let data) = try decode(
                "FE FE FE 68 10 01 00 00 05 08 00 00 81 16 90 1F 00 00 23 01 00 2C 00 00 00 00 2C 00 00 00 00 00 00 00 00 00 48 16")
        else { Issue.record("not 901F"); return }
        #expect(data.cumulative?.text == "123.00")
    }

    @Test func fieldsOfFFAreAbsentValuesNotErrors() throws {
        // Source: a public Go collector's comment of a meter reply (FF for settlement and clock).
        guard
            case .currentData(_, _, let serial, let data) = try decode(
                "FE FE 68 10 45 41 10 05 15 33 78 81 16 90 1F AA 00 59 59 00 2C FF FF FF FF 2C FF FF FF FF FF FF FF 00 00 C2 16")
        else { Issue.record("not 901F"); return }
        #expect(serial == 0xAA)
        #expect(data.cumulative?.text == "5959.00")
        #expect(data.settlement == nil)
        #expect(data.meterTime == nil)
    }

    // Source: a public Java water-meter UDP utility (getCmdContent's comments 强制开阀 / 强制关阀).
    static let openValve = "FE FE FE 68 10 01 13 12 19 00 00 00 04 04 A0 17 01 55 CC 16"
    static let closeValve = "FE FE FE 68 10 01 13 12 19 00 00 00 04 04 A0 17 01 99 10 16"

    @Test func valveCommandsAreBuiltAndReadBack() throws {
        let address = try CJT188.Address("00000019121301")
        #expect(CJT188.valveCommand(type: .coldWater, address: address, open: true, serial: 1, preamble: 3) == (try Hex.bytes(Self.openValve)))
        #expect(CJT188.valveCommand(type: .coldWater, address: address, open: false, serial: 1, preamble: 3) == (try Hex.bytes(Self.closeValve)))
        guard case .valveCommand(_, _, _, let action) = try decode(Self.closeValve) else { Issue.record("not a valve command"); return }
        #expect(action == 0x99)
        #expect(FrameReport(try decode(Self.openValve)).command == "open")
    }

    @Test func theReportGivesIngestionTheVolumeRegisterInLitres() throws {
        let report = FrameReport(
            try decode(
                "68 10 88 05 27 10 15 20 00 81 16 90 1F 01 25 01 00 00 2C 00 00 00 00 2C 06 20 17 09 01 17 20 00 00 B4 16"))
        #expect(report.kind == "current_data")
        #expect(report.registers == ["volume_total": 1_250])
    }

    @Test func damagedFramesAreRefusedWithPreciseCodes() throws {
        let bytes = try Hex.bytes(Self.openValve)
        for length in 0..<bytes.count {
            do { _ = try CJT188.decodeFrame(Array(bytes[0..<length])); Issue.record("prefix \(length) decoded") } catch {
                guard case .truncated = error else { Issue.record("prefix \(length): \(error)"); continue }
            }
        }
        var wrongSum = bytes
        wrongSum[wrongSum.count - 2] ^= 0x01
        #expect(throws: FrameError.badChecksum(expected: 0xCC, found: 0xCD)) { try CJT188.decodeFrame(wrongSum) }
        var noEnd = bytes
        noEnd[noEnd.count - 1] = 0x17
        #expect(throws: FrameError.missingEnd(offset: bytes.count - 1)) { try CJT188.decodeFrame(noEnd) }
        #expect(throws: FrameError.notHex) { try Hex.bytes("68 1") }
    }
}
