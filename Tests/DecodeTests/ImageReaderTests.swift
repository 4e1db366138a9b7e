import Decode
import Foundation
import Testing

@Suite("ImageReader")
struct ImageReaderTests {
    static let photos = ["000000000139.jpg", "000000000802.jpg", "000000005001.jpg"]

    /// The CLI's bilinear RGB24 for the same image and size.
    static func reference(_ path: String, width: Int, height: Int) throws -> [UInt8] {
        [UInt8](try TestSupport.run(TestSupport.ffmpeg!, [
            "-v", "error", "-i", path, "-vf", "scale=\(width):\(height):flags=bilinear",
            "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
        ]))
    }

    @Test("JPEG photos equal the ffmpeg CLI byte for byte",
          .enabled(if: TestSupport.haveCLI), arguments: photos)
    func jpegMatchesCLI(name: String) throws {
        let path = TestSupport.shared("data/coco/val-dev/images/\(name)")
        try #require(FileManager.default.fileExists(atPath: path), "needs ../shared")
        for (width, height) in [(640, 640), (320, 240), (97, 131)] {
            let image = try ImageReader.read(path: path, width: width, height: height)
            #expect(image.width == width && image.height == height)
            #expect(image.rgb.count == width * height * 3)
            let expected = try Self.reference(path, width: width, height: height)
            #expect(image.rgb == expected, "\(name) at \(width)x\(height)")
        }
    }

    @Test("source size is the stored size", .enabled(if: TestSupport.haveCLI))
    func sourceSize() throws {
        let path = TestSupport.shared("data/coco/val-dev/images/000000000139.jpg")
        let image = try ImageReader.read(path: path, width: 64, height: 64)
        #expect(image.sourceWidth == 640 && image.sourceHeight == 426)
    }

    @Test("PNG (RGBA and grey) equals the ffmpeg CLI", .enabled(if: TestSupport.haveCLI))
    func pngMatchesCLI() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        for pixelFormat in ["rgba", "gray", "rgb24", "rgb48be", "pal8", "ya8", "gray16be"] {
            let png = directory.appendingPathComponent("test-\(pixelFormat).png").path
            _ = try TestSupport.run(TestSupport.ffmpeg!, [
                "-v", "error", "-f", "lavfi", "-i", "testsrc=size=123x77", "-frames:v", "1",
                "-pix_fmt", pixelFormat, "-y", png,
            ])
            let image = try ImageReader.read(path: png, width: 64, height: 48)
            #expect(image.sourceWidth == 123 && image.sourceHeight == 77)
            #expect(image.rgb == (try Self.reference(png, width: 64, height: 48)), "\(pixelFormat)")
        }
    }

    @Test("names with colons and percent signs are names", .enabled(if: TestSupport.haveCLI))
    func oddNames() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = TestSupport.shared("data/coco/val-dev/images/000000000139.jpg")
        let odd = directory.appendingPathComponent("cam:1 100%d.jpg").path
        try FileManager.default.copyItem(atPath: source, toPath: odd)
        let image = try ImageReader.read(path: odd, width: 50, height: 40)
        #expect(image.rgb == (try ImageReader.read(path: source, width: 50, height: 40)).rgb)
    }

    @Test("a missing file is a one-line error naming it")
    func missingFile() {
        let path = "/nonexistent/dir/photo.jpg"
        #expect {
            try ImageReader.read(path: path, width: 32, height: 32)
        } throws: { error in
            guard let error = error as? ImageReader.Error else { return false }
            return error.kind == .missingFile && error.description.hasPrefix(path + ": ")
                && !error.description.contains("\n")
        }
    }

    @Test("files that are not images are one-line errors naming them")
    func notImages() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases: [(name: String, contents: Data, kinds: [ImageReader.Error.Kind])] = [
            ("notes.txt", Data("just some words\nand more\n".utf8), [.notAnImage]),
            ("random.bin", Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }), [.notAnImage, .corrupt]),
            ("fake.jpg", Data("this is not a JPEG".utf8), [.notAnImage, .corrupt]),
            ("empty.png", Data(), [.notAnImage, .corrupt]),
        ]
        for item in cases {
            let path = directory.appendingPathComponent(item.name).path
            try item.contents.write(to: URL(fileURLWithPath: path))
            do {
                _ = try ImageReader.read(path: path, width: 32, height: 32)
                Issue.record("\(item.name) decoded as an image")
            } catch {
                #expect(item.kinds.contains(error.kind), "\(item.name): \(error)")
                #expect(error.description.hasPrefix(path + ": "))
                #expect(!error.description.contains("\n"))
            }
        }
        #expect(throws: ImageReader.Error.self) {
            try ImageReader.read(path: directory.path, width: 32, height: 32)
        }
    }

    @Test("an audio file has no video stream")
    func audioOnly() throws {
        let path = TestSupport.fixture("audio-only.m4a")
        do {
            _ = try ImageReader.read(path: path, width: 32, height: 32)
            Issue.record("audio decoded as an image")
        } catch {
            #expect(error.kind == .noVideoStream, "\(error)")
            #expect(error.description == "\(path): no video stream (not an image)")
        }
    }

    @Test("a truncated JPEG fails cleanly or decodes like the CLI", .enabled(if: TestSupport.haveCLI))
    func truncatedJPEG() throws {
        let directory = try TestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let source = TestSupport.shared("data/coco/val-dev/images/000000000139.jpg")
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        let path = directory.appendingPathComponent("cut.jpg").path
        try data.prefix(600).write(to: URL(fileURLWithPath: path))
        do {
            let image = try ImageReader.read(path: path, width: 40, height: 30)
            #expect(image.rgb.count == 40 * 30 * 3)
        } catch {
            #expect(error.kind == .corrupt || error.kind == .notAnImage, "\(error)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test("invalid output sizes are rejected")
    func invalidSize() {
        #expect(throws: ImageReader.Error.self) {
            try ImageReader.read(path: "/dev/null", width: 0, height: 10)
        }
    }
}

extension ImageReaderTests {
    /// Every val-dev photo at 640×640 against the CLI; slow (≈ 1 min), so opt-in:
    /// `DECODE_ALL_PHOTOS=1 swift test --filter everyPhotoMatchesCLI`.
    @Test("every val-dev photo equals the CLI",
          .enabled(if: TestSupport.haveCLI && ProcessInfo.processInfo.environment["DECODE_ALL_PHOTOS"] == "1"))
    func everyPhotoMatchesCLI() throws {
        let directory = TestSupport.shared("data/coco/val-dev/images")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".jpg") }.sorted()
        #expect(names.count > 100)
        for name in names {
            let path = "\(directory)/\(name)"
            let image = try ImageReader.read(path: path, width: 640, height: 640)
            #expect(image.rgb == (try Self.reference(path, width: 640, height: 640)), "\(name)")
        }
    }
}
