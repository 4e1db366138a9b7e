import Decode
import Foundation
import QRTCore

/// `qrt-detr detect`: one JSON object per image, or per frame of a video, on stdout.
enum DetectCommand {
    static let help = """
        usage: qrt-detr detect [--model DIR|M.qrt] [--size N] [--threads N] [--score 0.5] [--draw OUT.png]
                               [--raw OUT.safetensors] IMAGE|VIDEO...

          --model DIR    Hugging Face RTDetrForObjectDetection directory (config.json + model.safetensors) or a
                         .qrt artifact (default: the bundled \(DefaultModel.name), see models/)
          --size N       square input size in pixels, a multiple of 32 (default: the size the model records, else 640)
          --threads N    compute threads (default: all cores)
          --score X      minimum score of a printed detection (default 0.5)
          --draw FILE    also write the image with its detections drawn as PNG (with several images:
                         FILE's name gets -1, -2, ... before the extension); images only
          --raw FILE     also write the raw logits [N,Q,C] and pred_boxes [N,Q,4] (cxcywh, 0..1) as safetensors;
                         images only

        Files whose extension is not an image format's are decoded as videos: one object per frame,
        with "frame" (0-based) and "pts" (seconds) added.
        """

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "bmp", "webp", "ppm", "pgm", "tif", "tiff", "gif"]

    struct Output: Encodable {
        struct Object: Encodable {
            let label: String
            let category_id: Int
            let score: Float
            let box: [Float]
        }
        let path: String
        var frame: Int?
        var pts: Double?
        let width: Int
        let height: Int
        let detections: [Object]

        init(path: String, frame: Int? = nil, pts: Double? = nil, width: Int, height: Int, detections: [Detection]) {
            self.path = path
            self.frame = frame
            self.pts = pts.map { ($0 * 1000).rounded() / 1000 }
            self.width = width
            self.height = height
            self.detections = detections.map {
                Object(label: $0.label, category_id: $0.categoryID, score: rounded($0.score, 4),
                       box: [$0.box.x1, $0.box.y1, $0.box.x2, $0.box.y2].map { rounded($0, 2) })
            }
        }
    }

    static func run(_ commandLine: [String]) throws -> Int32 {
        if commandLine.contains("--help") { print(help); return 0 }
        let arguments = try Arguments(commandLine, valued: ModelOptions.valued.union(["score", "raw", "draw"]), flags: [])
        let score = try arguments.float("score", default: 0.5, range: 0...1)
        let paths = arguments.positional
        guard !paths.isEmpty else { throw Arguments.UsageError(description: "no IMAGE or VIDEO given") }
        let videos = paths.filter { !isImage($0) }
        for option in ["draw", "raw"] where arguments.string(option) != nil && !videos.isEmpty {
            throw Arguments.UsageError(description: "option --\(option) takes images only, got the video '\(videos[0])'")
        }
        for path in paths where !FileManager.default.fileExists(atPath: path) {
            throw Arguments.UsageError(description: "\(path): no such file")
        }
        let options = try ModelOptions(arguments)
        let detector = try options.loadDetector()
        let output = JSONLinesOutput()
        var raw = RawOutputs()
        for (index, path) in paths.enumerated() {
            if videos.contains(path) {
                try detectVideo(path: path, detector: detector, score: score, output: output)
                continue
            }
            let image = try ImageReader.read(path: path, width: detector.inputSize, height: detector.inputSize)
            let detections = try image.rgb.withUnsafeBufferPointer {
                try detector.detect(rgb: $0, sourceWidth: image.sourceWidth, sourceHeight: image.sourceHeight,
                                    scoreThreshold: score)
            }
            if arguments.string("raw") != nil { raw.append(detector.lastOutputs!) }
            try output.write(Output(path: path, width: image.sourceWidth, height: image.sourceHeight, detections: detections))
            if let drawPath = arguments.string("draw") {
                try draw(detections, on: path, width: image.sourceWidth, height: image.sourceHeight,
                         to: numbered(drawPath, index: index, of: paths.count))
            }
        }
        if let rawPath = arguments.string("raw") { try raw.write(to: rawPath, images: paths.count) }
        return 0
    }

    static func isImage(_ path: String) -> Bool {
        imageExtensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased())
    }

    /// Runs the detector on every frame of a video file, in order, as fast as it decodes. The model
    /// runs on this thread: oneDNN keeps per-thread scratch memory, so primitives must execute on the
    /// thread that made them; the decode thread only hands frames over.
    private static func detectVideo(path: String, detector: Detector, score: Float, output: JSONLinesOutput) throws {
        var options = StreamOptions(width: detector.inputSize, height: detector.inputSize)
        options.reconnect = false
        let source = try VideoSource(url: path, options: options)
        let handoff = FrameHandoff(capacity: 2)
        source.start { event in
            switch event {
            case .frame(let frame): handoff.push(frame)
            case .down(let reason): handoff.fail("\(path): \(reason)")
            case .ended: handoff.finish()
            case .up, .reconnecting: break
            }
        }
        defer { handoff.cancel(); source.stop() }
        while let frame = handoff.pop() {
            let detections = try frame.rgb.withUnsafeBufferPointer {
                try detector.detect(rgb: $0, sourceWidth: frame.sourceWidth, sourceHeight: frame.sourceHeight,
                                    scoreThreshold: score)
            }
            try output.write(Output(path: path, frame: frame.index, pts: frame.pts, width: frame.sourceWidth,
                                    height: frame.sourceHeight, detections: detections))
        }
        if let message = handoff.failure { throw Arguments.UsageError(description: message) }
    }

    /// Decodes the image again at its own size (the first decode scaled it to the model's input).
    private static func draw(_ detections: [Detection], on path: String, width: Int, height: Int, to drawPath: String) throws {
        let full = try ImageReader.read(path: path, width: width, height: height)
        var drawing = DetectionDrawing(rgb: full.rgb, width: full.width, height: full.height)
        drawing.draw(detections)
        try PNGWriter.write(rgb: drawing.rgb, width: drawing.width, height: drawing.height, to: drawPath)
    }

    /// `out.png` for one image; `out-1.png`, `out-2.png`, ... for several.
    static func numbered(_ path: String, index: Int, of count: Int) -> String {
        guard count > 1 else { return path }
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        let name = url.pathExtension.isEmpty ? "\(stem)-\(index + 1)" : "\(stem)-\(index + 1).\(url.pathExtension)"
        return url.deletingLastPathComponent().appendingPathComponent(name).path
    }

    private static func rounded(_ value: Float, _ digits: Int) -> Float {
        let scale = Float(pow(10, Double(digits)))
        return (value * scale).rounded() / scale
    }
}

/// Writes one JSON object per line to stdout; safe to call from the decode thread.
private final class JSONLinesOutput: Sendable {
    func write(_ output: DetectCommand.Output) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        FileHandle.standardOutput.write(try encoder.encode(output) + Data("\n".utf8))
    }
}

/// The raw model outputs of every image, for `--raw`.
private struct RawOutputs {
    var logits: [Float] = []
    var boxes: [Float] = []
    var queries = 0
    var classes = 0

    mutating func append(_ outputs: (logits: Tensor, boxes: Tensor)) {
        logits += outputs.logits.toArray()
        boxes += outputs.boxes.toArray()
        (queries, classes) = (outputs.logits.shape[0], outputs.logits.shape[1])
    }

    func write(to path: String, images: Int) throws {
        var writer = SafeTensorsWriter(metadata: ["format": "pt", "producer": "qrt-detr detect"])
        try writer.add("logits", shape: [images, queries, classes], floats: logits)
        try writer.add("pred_boxes", shape: [images, queries, 4], floats: boxes)
        try writer.write(to: URL(fileURLWithPath: path))
    }
}

/// A bounded queue of frames from the decode thread to the thread that runs the model; the
/// decoder waits while it is full, so no frame is dropped.
private final class FrameHandoff: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var frames: [DecodedFrame] = []
    private var ended = false
    private var cancelled = false
    private(set) var failure: String?

    init(capacity: Int) { self.capacity = capacity }

    func push(_ frame: DecodedFrame) {
        condition.lock()
        defer { condition.unlock() }
        while frames.count >= capacity && !cancelled { condition.wait() }
        if !cancelled { frames.append(frame) }
        condition.broadcast()
    }

    func fail(_ message: String) {
        condition.lock()
        if failure == nil { failure = message }
        condition.unlock()
    }

    func finish() {
        condition.lock()
        ended = true
        condition.broadcast()
        condition.unlock()
    }

    /// Releases a decoder waiting for room; later frames are discarded.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next frame, or nil once the source has ended and every frame was taken.
    func pop() -> DecodedFrame? {
        condition.lock()
        defer { condition.unlock() }
        while frames.isEmpty && !ended { condition.wait() }
        guard !frames.isEmpty else { return nil }
        condition.broadcast()
        return frames.removeFirst()
    }
}
