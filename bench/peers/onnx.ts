// A tiny ONNX ModelProto writer for the onnxruntime-web peer: just the subset of onnx.proto that
// our graphs need (nodes, attributes of kind INT/INTS/FLOAT, float/int64 initializers as raw_data,
// typed graph inputs/outputs), encoded with protobufjs from a schema parsed in code.
// Field numbers follow onnx/onnx.proto (IR version 10).
import protobuf from 'protobufjs';

const ONNX_PROTO_SUBSET = `
syntax = "proto2";
package onnx;
message AttributeProto {
  optional string name = 1; optional float f = 2; optional int64 i = 3;
  repeated int64 ints = 8; optional int32 type = 20;
}
message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
message NodeProto {
  repeated string input = 1; repeated string output = 2; optional string name = 3;
  optional string op_type = 4; repeated AttributeProto attribute = 5; optional string domain = 7;
}
message ModelProto {
  optional int64 ir_version = 1; optional string producer_name = 2;
  optional GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8;
}
message GraphProto {
  repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12;
}
message TensorProto {
  repeated int64 dims = 1; optional int32 data_type = 2; optional string name = 8; optional bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { optional int64 dim_value = 1; optional string dim_param = 2; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
  optional Tensor tensor_type = 1;
}
message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
`;

const ModelProto = protobuf.parse(ONNX_PROTO_SUBSET).root.lookupType('onnx.ModelProto');

const FLOAT = 1, INT64 = 7;                           // TensorProto.DataType
export const INT32 = 6;
const ATTR_FLOAT = 1, ATTR_INT = 2, ATTR_INTS = 7;   // AttributeProto.AttributeType

/** Attribute values: an integer → INT, an integer array → INTS, { f } → FLOAT. */
export type Attr = number | number[] | { f: number };

export const DEFAULT_OPSETS: Record<string, number> = { '': 21, 'com.microsoft': 1 };

export class Graph {
  private nodes: object[] = [];
  private inits: object[] = [];
  private inputs: object[] = [];
  private outputs: object[] = [];
  private n = 0;

  /** Declare a graph input of fixed shape (float32, or elemType: INT32 for the int32 inputs of GroupQueryAttention); returns its name. */
  input(name: string, dims: number[], elemType = FLOAT): string {
    this.inputs.push(valueInfo(name, dims, elemType));
    return name;
  }

  /** Declare a float32 graph output (shape optional). */
  output(name: string, dims?: number[]): void {
    this.outputs.push(valueInfo(name, dims));
  }

  /** A float32 initializer (stored as raw_data); returns its name. */
  f32(name: string, data: Float32Array, dims: number[]): string {
    this.inits.push({ name, dims, dataType: FLOAT, rawData: bytesOf(data) });
    return name;
  }

  /** An int64 initializer (e.g. a Reshape target shape); returns its name. */
  i64(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    this.inits.push({ name, dims: [values.length], dataType: INT64, rawData: bytesOf(data) });
    return name;
  }

  /** Add a node; returns its output names (fresh names unless given). '' marks an absent optional input. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, opts: { outputs?: string[] | number; domain?: string } = {}): string[] {
    const id = this.n++;
    const outs = Array.isArray(opts.outputs)
      ? opts.outputs
      : Array.from({ length: opts.outputs ?? 1 }, (_, i) => `${opType.toLowerCase()}${id}_${i}`);
    const attribute = Object.entries(attrs).map(([name, v]) =>
      Array.isArray(v) ? { name, type: ATTR_INTS, ints: v }
      : typeof v === 'number' ? { name, type: ATTR_INT, i: v }
      : { name, type: ATTR_FLOAT, f: v.f });
    this.nodes.push({ input: inputs, output: outs, name: `${opType}_${id}`, opType, attribute, domain: opts.domain ?? '' });
    return outs;
  }

  /** Shorthand for a single-output node. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, domain?: string): string {
    return this.node(opType, inputs, attrs, { domain })[0];
  }

  /** Serialized ModelProto bytes. */
  toBytes(opsets: Record<string, number> = DEFAULT_OPSETS, irVersion = 10): Uint8Array {
    const model = {
      irVersion,
      producerName: 'wasm-attention-bench',
      graph: { name: 'g', node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
      opsetImport: Object.entries(opsets).map(([domain, version]) => ({ domain, version })),
    };
    const err = ModelProto.verify(model);
    if (err) throw new Error(`onnx: invalid ModelProto: ${err}`);
    return ModelProto.encode(ModelProto.create(model)).finish();
  }
}

function valueInfo(name: string, dims?: number[], elemType = FLOAT): object {
  const tensorType = dims
    ? { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } }
    : { elemType };
  return { name, type: { tensorType } };
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);   // little-endian hosts only (x86, arm)
}
