"""A standard SPARQL client against a node's /sparql: SPARQLWrapper for a SELECT (JSON
results), and rdflib parsing the Turtle of a CONSTRUCT. Prints one JSON object:
{"bindings": [...], "triples": N}.

    python3 sparql.py ENDPOINT SELECT_FILE CONSTRUCT_FILE
"""
import json
import sys

import rdflib
from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

endpoint, select_file, construct_file = sys.argv[1:4]

client = SPARQLWrapper(endpoint)
client.setMethod("POST")
client.setQuery(open(select_file, encoding="utf-8").read())
client.setReturnFormat(JSON)
bindings = client.query().convert()["results"]["bindings"]

client.setQuery(open(construct_file, encoding="utf-8").read())
client.setReturnFormat(TURTLE)
turtle = client.query().convert()
graph = rdflib.Graph()
graph.parse(data=turtle, format="turtle")

print(json.dumps({"bindings": bindings, "triples": len(graph)}))
