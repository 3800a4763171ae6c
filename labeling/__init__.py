"""Where labels go: Label Studio, DynamoDB, training-set exports (see issues #4 and #5).

It depends on reviewapp, never the other way round."""
