import Decode
import Foundation
import QRTCore

/// `qrt-detr detect`: one JSON object per image on stdout.
enum DetectCommand {
    static let help = """
        usage: qrt-detr detect --model DIR [--size 640] [--threads N] [--score 0.5] [--raw OUT.safetensors] IMAGE...

          --model DIR    Hugging Face RTDetrForObjectDetection directory (config.json + model.safetensors)
          --size N       square input size in pixels, a multiple of 32 (default 640)
          --threads N    compute threads (default: all cores)
          --score X      minimum score of a printed detection (default 0.5)
          --raw FILE     also write the raw logits [N,Q,C] and pred_boxes [N,Q,4] (cxcywh, 0..1) as safetensors
        """

    struct Output: Encodable {
        struct Object: Encodable {
            let label: String
            let category_id: Int
            let score: Float
            let box: [Float]
        }
        let path: String
        let width: Int
        let height: Int
        let detections: [Object]
    }

    static func run(_ commandLine: [String]) throws -> Int32 {
        if commandLine.contains("--help") { print(help); return 0 }
        let arguments = try Arguments(commandLine, valued: ModelOptions.valued.union(["score", "raw"]), flags: [])
        let options = try ModelOptions(arguments)
        let score = try arguments.float("score", default: 0.5, range: 0...1)
        guard !arguments.positional.isEmpty else { throw Arguments.UsageError(description: "no IMAGE given") }
        let detector = try options.loadDetector()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var rawLogits: [Float] = [], rawBoxes: [Float] = []
        var rawShape = (queries: 0, classes: 0)
        for path in arguments.positional {
            let image = try ImageReader.read(path: path, width: options.size, height: options.size)
            let detections = try image.rgb.withUnsafeBufferPointer {
                try detector.detect(rgb: $0, sourceWidth: image.sourceWidth, sourceHeight: image.sourceHeight,
                                    scoreThreshold: score)
            }
            if arguments.string("raw") != nil {
                let (logits, boxes) = detector.lastOutputs!
                rawLogits += logits.toArray()
                rawBoxes += boxes.toArray()
                rawShape = (logits.shape[0], logits.shape[1])
            }
            let output = Output(
                path: path, width: image.sourceWidth, height: image.sourceHeight,
                detections: detections.map {
                    Output.Object(label: $0.label, category_id: $0.categoryID, score: rounded($0.score, 4),
                                  box: [$0.box.x1, $0.box.y1, $0.box.x2, $0.box.y2].map { rounded($0, 2) })
                })
            FileHandle.standardOutput.write(try encoder.encode(output) + Data("\n".utf8))
        }
        if let rawPath = arguments.string("raw") {
            let n = arguments.positional.count
            var writer = SafeTensorsWriter(metadata: ["format": "pt", "producer": "qrt-detr detect"])
            try writer.add("logits", shape: [n, rawShape.queries, rawShape.classes], floats: rawLogits)
            try writer.add("pred_boxes", shape: [n, rawShape.queries, 4], floats: rawBoxes)
            try writer.write(to: URL(fileURLWithPath: rawPath))
        }
        return 0
    }

    private static func rounded(_ value: Float, _ digits: Int) -> Float {
        let scale = Float(pow(10, Double(digits)))
        return (value * scale).rounded() / scale
    }
}
