import CourtyardMeterProtocols
import PropertyBased
import Testing

/// No byte string crashes a decoder; valid frames survive a round trip; any damaged byte is caught.
@Suite struct FrameFuzzTests {
    @Test func arbitraryBytesNeverCrashEitherDecoder() async {
        await propertyCheck(count: 3_000, input: Gen.uint8().array(of: 0...80)) { bytes in
            _ = try? DLT645.decode(bytes)
            _ = try? CJT188.decode(bytes)
            _ = try? DLT645.decode([0x68] + bytes)
            _ = try? CJT188.decode([0x68] + bytes)
        }
    }

    @Test func framesThatLookRightButCarryRandomDataNeverCrash() async {
        // Valid framing around random payloads reaches the interpreters (901F, 1C, block reads…).
        await propertyCheck(count: 2_000, input: Gen.uint8().array(of: 0...40), Gen.uint8()) { data, control in
            let dlt = DLT645.Frame(address: .wildcard, control: DLT645.Control(raw: control), data: data)
            let decoded = try? DLT645.decodeFrame(dlt.encoded())
            #expect(decoded == dlt)
            _ = try? DLT645.decode(dlt.encoded())
            for identifier: [UInt8] in [[0x90, 0x1F], [0x1F, 0x90], [0xA0, 0x17]] {
                let cjt = CJT188.Frame(type: .coldWater, address: .wildcard, control: control, data: identifier + data)
                #expect((try? CJT188.decodeFrame(cjt.encoded())) == cjt)
                _ = try? CJT188.decode(cjt.encoded())
            }
        }
    }

    @Test func changingAnyOneByteOfAFrameNeverYieldsTheSameFrame() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...30), Gen.int(in: 0...1_000), Gen.uint8()) { data, position, flip in
            let original = DLT645.Frame(address: .wildcard, control: DLT645.Control(raw: 0x91), data: data)
            var bytes = original.encoded(preamble: 0)
            let index = position % bytes.count
            bytes[index] ^= flip == 0 ? 1 : flip
            #expect((try? DLT645.decodeFrame(bytes)) != original)
        }
    }
}
