location  = "westeurope"
http_port = "80"
